"""Long jobs on worker threads for the GUI (progress, cancel, newest request wins). Every job
that cuts out runs the one pipeline built by `bgeraser_gui.assemble`."""
