// aedes-broker.js: a second, independent MQTT broker for the central side
// of pushrelay's system tests (tests/lib/harness.py, class AedesBroker).
//
//   node tests/brokers/aedes-broker.js PORT [--hold CLIENT_ID]...
//
// One aedes instance (MQTT 3.1 and 3.1.1; aedes speaks no MQTT 5) with its
// default in-memory persistence: persistent sessions (clean session 0), their
// subscriptions, the QoS 1/2 messages queued for them and retained messages
// live as long as this process does, and no longer. It listens on
// 127.0.0.1:PORT and logs to stdout, one line per event, each starting with
// the time, as Mosquitto's log does.
//
// Signals:
//   SIGTERM, SIGINT  close every connection and exit 0 (nothing is saved).
//   SIGUSR1          offline: stop listening and close every connection at
//                    once (no DISCONNECT, as when the network goes), keeping
//                    every session: the broker seen from outside is down.
//   SIGUSR2          online again: listen on the same port.
//   SIGHUP           release the held client ids (--hold).
//
// --hold CLIENT_ID: a CONNECT with that client id is refused with return
// code 3 (Server unavailable) until SIGHUP, so that a test can let its own
// clients subscribe to a broker that starts empty before the relay under
// test may connect.

import { createServer } from 'node:net'
import { Aedes } from 'aedes'

function usage (why) {
  process.stderr.write(`aedes-broker: ${why}\n` +
    'usage: node aedes-broker.js PORT [--hold CLIENT_ID]...\n')
  process.exit(2)
}

const args = process.argv.slice(2)
const held = new Set()
let port = null
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--hold') {
    if (i + 1 >= args.length) usage('--hold needs a client id')
    held.add(args[++i])
  } else if (port === null && /^[0-9]+$/.test(args[i])) {
    port = Number(args[i])
  } else {
    usage(`unexpected argument '${args[i]}'`)
  }
}
if (port === null || port < 1 || port > 65535) usage('PORT is required')
const host = '127.0.0.1'

function stamp () {
  return new Date().toTimeString().slice(0, 8)
}

function log (text) {
  process.stdout.write(`${stamp()}: ${text}\n`)
}

function who (client) {
  return client && client.id ? client.id : '(no client id yet)'
}

const broker = await Aedes.createBroker({
  // Refuse held client ids with CONNACK 3; every other CONNECT goes on.
  authenticate (client, username, password, done) {
    if (held.has(client.id)) {
      log(`refused ${client.id}: held until SIGHUP (return code 3)`)
      const err = new Error('held by the test')
      err.returnCode = 3
      return done(err, false)
    }
    done(null, true)
  }
})

broker.on('client', (client) => {
  log(`new client ${client.id} from ${client.conn.remoteAddress}:` +
    `${client.conn.remotePort} (MQTT level ${client.version}, clean ` +
    `session ${client.clean ? 1 : 0})`)
})
broker.on('connackSent', (packet, client) => {
  log(`CONNACK to ${who(client)}: return code ${packet.returnCode}, ` +
    `session present ${packet.sessionPresent ? 1 : 0}`)
})
broker.on('clientDisconnect', (client) => {
  log(`client ${client.id} disconnected`)
})
broker.on('clientError', (client, err) => {
  log(`client ${who(client)} error: ${err.message}`)
})
broker.on('connectionError', (client, err) => {
  log(`connection error (${who(client)}): ${err.message}`)
})
broker.on('keepaliveTimeout', (client) => {
  log(`client ${who(client)} keepalive timeout`)
})
broker.on('subscribe', (subs, client) => {
  log(`${who(client)} subscribed: ` +
    subs.map((s) => `${s.topic} (QoS ${s.qos})`).join(', '))
})

// Every socket, also those that have not sent CONNECT yet: offline closes
// them all.
const sockets = new Set()
const server = createServer((conn) => {
  sockets.add(conn)
  conn.on('close', () => sockets.delete(conn))
  broker.handle(conn)
})
server.on('error', (err) => {
  log(`listener error: ${err.message}`)
  process.exit(1)
})

function listen () {
  server.listen(port, host, () => {
    log(`aedes ${broker.version} listening on ${host}:${port}` +
      (held.size ? `; holding ${[...held].join(', ')}` : ''))
  })
}

process.on('SIGUSR1', () => {
  if (!server.listening) return
  server.close()
  const n = sockets.size
  for (const s of sockets) s.destroy()
  log(`offline: stopped listening, closed ${n} connections; ` +
    'sessions kept')
})
process.on('SIGUSR2', () => {
  if (!server.listening) listen()
})
process.on('SIGHUP', () => {
  log(`released ${[...held].join(', ') || 'nothing'}`)
  held.clear()
})

function shutdown (sig) {
  log(`${sig}: closing`)
  server.close()
  for (const s of sockets) s.destroy()
  broker.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

listen()
