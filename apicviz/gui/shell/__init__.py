"""The application shell: launch, the main window assembly, files, sharing, settings, rendering."""
