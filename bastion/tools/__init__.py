"""Tools that know nothing of Bastion: the clock, private files, the settings-section base and
network parsing. Every other package may import them; they import no other part of Bastion."""
