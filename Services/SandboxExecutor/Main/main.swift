print("SandboxExecutor")
