"""gan1d's Hydra sweeper, ``hydra/sweeper=optuna_study`` (conf/hydra/sweeper/optuna_study.yaml; hparams_search=
optuna_lr uses it): an Optuna 4+ study kept on disk, which a rerun continues and several workers share."""
