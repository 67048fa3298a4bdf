"""Tools that know nothing of Bastion: the clock, private files, the settings-section base,
network parsing and the event hub. Every other package may import them; they import no other
part of Bastion."""
