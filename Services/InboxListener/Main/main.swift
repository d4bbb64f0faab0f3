print("InboxListener")
