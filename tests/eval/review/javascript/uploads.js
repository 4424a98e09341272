// Attachment storage for the support desk: save, read back and list a ticket's files.

const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const UPLOAD_DIR = process.env.UPLOAD_DIR || "/var/lib/desk/uploads";
const MAX_BYTES = 10 * 1024 * 1024;

function ticketDir(ticketId) {
  if (!/^[0-9]+$/.test(String(ticketId))) {
    throw new Error(`bad ticket id ${ticketId}`);
  }
  return path.join(UPLOAD_DIR, String(ticketId));
}

function save(ticketId, originalName, buffer) {
  if (buffer.length > MAX_BYTES) {
    throw new Error("attachment too large");
  }
  const dir = ticketDir(ticketId);
  fs.mkdirSync(dir, { recursive: true });
  const id = crypto.randomUUID();
  const ext = path.extname(originalName).replace(/[^.a-z0-9]/gi, "");
  fs.writeFileSync(path.join(dir, id + ext), buffer);
  return id + ext;
}

function read(ticketId, fileName, callback) {
  const file = path.join(ticketDir(ticketId), fileName);
  fs.readFile(file, (err, data) => {
    callback(data);
  });
}

function list(ticketId) {
  const dir = ticketDir(ticketId);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => ({ name, bytes: fs.statSync(path.join(dir, name)).size }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function handleDownload(req, res) {
  read(req.params.ticket, req.params.file, (data) => {
    res.setHeader("Content-Type", "application/octet-stream");
    res.end(data);
  });
}

module.exports = { save, read, list, handleDownload };
