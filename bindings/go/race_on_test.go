//go:build race

package cairn

const raceEnabled = true
