print("BatchProposer")
