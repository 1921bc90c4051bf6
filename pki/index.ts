export { makeDevCertificates, ensureDevCertificates, type DevCertificates, type DevCertificateFiles } from './dev-certs.js'
