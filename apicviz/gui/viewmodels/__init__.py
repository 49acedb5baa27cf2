"""Qt-free view-models: what each view shows, computed from model results without Qt."""
