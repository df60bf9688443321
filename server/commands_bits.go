package server

func bitCommands() []command { return nil }
