'use strict';
// CairnError: every failure of the binding. .code is the positive code (a protocol
// code from the schema, e.g. 1017, or an errno value, e.g. 110), .errno the negative
// one libcairn returns, .codeName the schema's name ("UNKNOWN_HUNT") or the errno name
// ("ETIMEDOUT"), and .message what cairn_strerror says.
const os = require('os');
const { ERROR_NAMES } = require('./protocol');

const ERRNO_NAMES = {};
for (const [name, value] of Object.entries(os.constants.errno)) {
	if (!(value in ERRNO_NAMES)) ERRNO_NAMES[value] = name;
}

let strerror = null;

class CairnError extends Error {
	constructor(code, extra) {
		const c = Math.abs(Number(code)) | 0;
		const codeName = ERROR_NAMES[c] || ERRNO_NAMES[c] || `E${c}`;
		super(`${strerror ? strerror(-c) : `cairn error ${c}`} (${codeName})`);
		this.code = c;
		this.errno = -c;
		this.codeName = codeName;
		if (extra) Object.assign(this, extra);
	}

	get name() {
		return 'CairnError';
	}
}

function setStrerror(fn) {
	strerror = fn;
}

module.exports = { CairnError, setStrerror };
