/// Pure decisions of the sandbox-executor (issue 7): no sockets, clocks or global randomness.
public enum SandboxCore {}
