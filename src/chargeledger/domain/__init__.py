"""The pure core: commands, events, deciders and the twin's update. No I/O, no clock."""
