"""Running Evol-Instruct: the engine (one generation at a time), the run session that wires
a store, client and engine together, the LLM client and its budget, the difficulty judge,
and the what-if re-judging of a stored run.

Import from the modules; this package face loads nothing, so `import evolviz` stays light.
"""
