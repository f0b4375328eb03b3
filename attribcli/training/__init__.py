"""One training run, in phases: prepare (check every input, tokenize; nothing written), setup (the run
directory: refuse, resume, write the inputs as trained), loop (the optimizer steps, each valued by inrun),
finish (values, losses, weights, manifest). Also: what each step trains on (steps.py), the value table
while training (tally.py), data parallelism (distributed.py), ``--nproc`` (launch.py), base-model
pre-training (pretrain.py), the gradient index written while training (index.py), and the run directory's
fixed names (layout.py). Reading a finished run, and everything asked of it later, is posttrain/.

May import: config, data, rights, model, inrun, audit.manifest, errors, files, progress.
"""
