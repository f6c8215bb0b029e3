"""The training methods by name, and their one documented spelling: what the command line
needs to parse and list them without importing the training stack (whose import costs a
``simulate`` its start-up)."""

METHODS = ("fp32", "qat", "rct", "bnn", "bnn-lowmem")


def canonical_method(name: str) -> str:
    """A method's one documented spelling: ``bnn_lowmem`` (a YAML key's habit) is
    ``bnn-lowmem`` (the CLI's)."""
    return name.strip().replace("_", "-")
