// `JSONValue` appears in this module's public API, so its users get it with this import.
@_exported import JSON
