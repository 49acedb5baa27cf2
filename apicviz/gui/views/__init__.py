"""Widgets, Qt item models, delegates and dialogs: they subscribe to the controller and draw."""
