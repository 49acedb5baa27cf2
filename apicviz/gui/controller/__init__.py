"""The controller: the one owner of the scenario, its evaluations and the undo stack."""
