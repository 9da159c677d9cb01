// SondeText: the text helpers of Sonde's renderers (the stat, report, script, symbolize and features
// output, the flame graph), in one place and dependency-free: printf-style and fixed-decimal number
// formatting, column padding, and JSON string and object writing. Engines return values; only renderers
// (SondeCore's Stat renderer, the CLI, the Profiles exporters) import this.
