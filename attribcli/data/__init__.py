"""The training data as attrib reads it: documents streamed from the corpus (corpus.py), their tokens in a
memory-mapped, content-addressed cache (tokens.py), exact duplicates (duplicates.py) and the generations
being paid for (generations.py).

May import: errors, files, money.amounts (revenues are parsed where they are read), rights.
"""
