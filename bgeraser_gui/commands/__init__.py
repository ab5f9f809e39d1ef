"""`bgeraser-cli` sub-commands; they build their pipeline with `bgeraser_gui.assemble` from
the command-line options (`commands.common.spec_from_args`)."""
