"""Running Evol-Instruct: the engine (one generation at a time), the run session that wires
a store, client and engine together, the LLM client and its budget, the difficulty judge,
the what-if re-judging of a stored run, and batch mode (`batch*.py`: the same pipeline fed
by a provider's Batch API, or a folder for an offline runner).

Import from the modules; this package face loads nothing, so `import evolviz` stays light.
"""
