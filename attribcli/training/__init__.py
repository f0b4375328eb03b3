"""One training run, in phases: prepare (check every input, tokenize; nothing written), setup (the run
directory: refuse, resume, write the inputs as trained), loop (the optimizer steps, each valued by inrun),
finish (values, losses, weights, manifest). Also: what each step trains on (steps.py), the value table
while training (tally.py), data parallelism (distributed.py), ``--nproc`` (launch.py), base-model
pre-training (pretrain.py), the reader of a finished run directory (rundir.py), and the replay of a
finished run's trajectory for generations that arrive after it (replay.py).

May import: config, data, rights, model, inrun, audit.manifest, errors, files, progress.
"""
