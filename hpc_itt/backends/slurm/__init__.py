"""Slurm: sbatch through submitit. The chain of a stage is submitted at once with job
dependencies and the command returns; states come from squeue and sacct; the dry run shows the
exact sbatch scripts; TensorBoard runs as a small job bound to the compute node's 127.0.0.1."""
