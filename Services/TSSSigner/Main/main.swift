print("TSSSigner")
