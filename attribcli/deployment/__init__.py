"""After training: what the deployed, fine-tuned model produces (generate.py), in the generations format
that valuation reads, so the generations a platform is paid for can be valued once they exist; and a
config's generation prompts completed and valued by replay after ``attrib train``.

May import: posttrain (the finished run and its model: rundir; replay), training (launch), model, data,
config, errors, files.
"""
