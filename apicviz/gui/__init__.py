"""The Qt layer: thin views over :mod:`apicviz.model`, driven by a controller."""
