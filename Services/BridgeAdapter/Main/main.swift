print("BridgeAdapter")
