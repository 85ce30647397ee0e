// Makes the `mongo` service a one-node replica set (transactions and change streams need
// one) and waits until it is a writable primary. Idempotent: run by the one-shot
// `mongo-init` service on every `docker compose up`.
//
//   mongosh "mongodb://mongo:27017/?directConnection=true" --quiet init-replica-set.js
//
// The member's host is the compose service name, so every container on the compose
// network reaches it as mongodb://mongo:27017/?replicaSet=rs0 and the name survives a
// restart of the container (its IP does not).
const replicaSet = { _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] };

try {
  const status = rs.status();
  print(`replica set ${status.set} already initiated`);
} catch (error) {
  if (error.codeName !== "NotYetInitialized") {
    throw error;
  }
  rs.initiate(replicaSet);
  print(`replica set ${replicaSet._id} initiated`);
}

// The election takes a few seconds after rs.initiate (and after a restart).
const deadline = Date.now() + 60 * 1000;
while (!db.hello().isWritablePrimary) {
  if (Date.now() > deadline) {
    print("no writable primary after 60 s");
    quit(1);
  }
  sleep(500);
}
print("writable primary: ready");
