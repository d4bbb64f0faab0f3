import SandboxCore

/// Effects of the sandbox-executor (issue 7): fetching, pulling, running.
public enum SandboxRuntime {}
