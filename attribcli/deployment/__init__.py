"""After training: what the deployed, fine-tuned model produces (generate.py), in the generations format
that valuation reads, so the generations a platform is paid for can be valued once they exist.

May import: training.rundir (the finished run and its model), model, data, config, errors, files.
"""
