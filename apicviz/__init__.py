"""apicviz: see how KVM builds its optimized local-APIC map and where interrupts go."""
__version__ = "0.1.0"
