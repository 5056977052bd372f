package cairn

import "unsafe"

func unsafePointer(m *Msg) unsafe.Pointer { return unsafe.Pointer(m) }
