"""Runs one pickled TrainJob under torchrun (the `env` rendezvous path); rank 0 writes the result."""
import json
import pickle
import sys

import torch.distributed

from hpc_itt.train.loop import run

if __name__ == "__main__":
    job = pickle.loads(open(sys.argv[1], "rb").read())
    result = run(job)
    if torch.distributed.get_rank() == 0:
        open(sys.argv[2], "w").write(json.dumps(result, default=float))
