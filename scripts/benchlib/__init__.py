"""scripts/bench's parts, split along their seams: common (logging, processes), world (the stack, the private
Kubernetes stand-in, the manifest and the disaster before each run), data (the generated database and archive,
cached), measures (the contenders and P1-P7) and report (the table and the JSON). scripts/bench.py is the entry."""
