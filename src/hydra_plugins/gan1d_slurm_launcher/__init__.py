"""gan1d's Hydra launcher for SLURM, ``hydra/launcher=slurm`` (configured in gan1d's conf/hydra/launcher/slurm.yaml):
Hydra's submitit launcher, except that a job SLURM ends without a result (scancel, a node failure, a time limit
past its requeues) is listed in the sweep as cancelled or failed with SLURM's reason, and the sweep goes on."""
