//go:build !race

package cairn

const raceEnabled = false
