'use strict';
// cairn for Node: the Client class (lib/client.js), CairnError, the generated protocol
// constants (lib/protocol.js) and the struct codec (lib/codec.js).
const protocol = require('./lib/protocol');
const codec = require('./lib/codec');
const { Client, EventFeed, CairnError } = require('./lib/client');

function connect(socketPath, options) {
	return new Client(socketPath, options);
}

module.exports = { Client, EventFeed, CairnError, connect, protocol, codec, ...protocol };
