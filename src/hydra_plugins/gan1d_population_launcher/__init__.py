"""gan1d's Hydra launcher, ``hydra/launcher=population`` (configured in gan1d's conf/hydra/launcher/population.yaml):
a sweep's jobs that differ only in the keys a population can vary train as populations (gan1d.population), the rest
one after another as Hydra's basic launcher runs them."""
