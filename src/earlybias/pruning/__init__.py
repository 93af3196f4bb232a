"""Chapter ``pruning``: bias in pruned vision models (Iofinova, Peste, Alistarh, CVPR 2023)."""
