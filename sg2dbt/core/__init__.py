"""The core layer: the schema model, naming rules, type map and raw layout that every other layer reads.

It imports nothing from the layers above it (schema input, emitters, loader, evolve, cli); `.ci/run`
checks that with import-linter (the contract in pyproject.toml).
"""
