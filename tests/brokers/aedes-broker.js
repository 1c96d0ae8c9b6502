// SPDX-License-Identifier: ISC
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
//
// AEDES_TRACE=1 in the environment also logs every packet in (<-) and out
// (->) of every connection, tagged with the client's port, PUBLISH with
// its QoS, flags, packet id, topic, size and the first 8 hex digits of the
// MD5 of its payload: the packet-level evidence when a test fails.

import { createServer } from 'node:net'
import { createHash } from 'node:crypto'
import { Aedes } from 'aedes'
import mqttPacket from 'mqtt-packet'

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
const trace = process.env.AEDES_TRACE === '1'

function describe (p) {
  const id = p.messageId !== undefined ? ` id ${p.messageId}` : ''
  if (p.cmd === 'connect') return `CONNECT ${p.clientId}`
  if (p.cmd !== 'publish') return p.cmd.toUpperCase() + id
  const payload = p.payload || Buffer.alloc(0)
  const md5 = createHash('md5').update(payload).digest('hex').slice(0, 8)
  return `PUBLISH q${p.qos}${p.dup ? ' dup' : ''}` +
    `${p.retain ? ' retain' : ''}${id} ${p.topic} (${payload.length} B ` +
    `md5 ${md5})`
}

// Parses a copy of what the connection reads and writes: aedes reads with
// read() on 'readable', which also emits 'data'; it writes a packet in
// several write() calls, strings among them.
function traceConn (conn) {
  const tag = String(conn.remotePort)
  for (const [dir, side] of [['<-', 'in'], ['->', 'out']]) {
    const p = mqttPacket.parser({ protocolVersion: 4 })
    p.on('packet', (pk) => log(`trace ${tag} ${dir} ${describe(pk)}`))
    p.on('error', (e) => log(`trace ${tag} ${dir} cannot parse: ${e.message}`))
    if (side === 'in') {
      conn.prependListener('data', (d) => p.parse(d))
    } else {
      const write = conn.write.bind(conn)
      conn.write = (chunk, ...rest) => {
        p.parse(typeof chunk === 'string'
          ? Buffer.from(chunk, typeof rest[0] === 'string' ? rest[0] : 'utf8')
          : Buffer.from(chunk))
        return write(chunk, ...rest)
      }
    }
  }
}

const server = createServer((conn) => {
  sockets.add(conn)
  if (trace) traceConn(conn)
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
