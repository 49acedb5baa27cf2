"""The host check: build a scenario as a real VM on this machine's /dev/kvm and compare with the model.

Qt-free (a GUI worker thread calls :func:`apicviz.host.probe.probe`); talks to
the kernel through ioctls from ctypes, so it lives outside :mod:`apicviz.model`,
which it imports.
"""
