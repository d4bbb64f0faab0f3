print("ConsensusManager")
