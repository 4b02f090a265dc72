// Loaded into every test process (package.json tap.node-arg). tap runs tests with
// --enable-source-maps, which on Node 22 also maps node_modules: the first stack trace through a
// client library then decodes its whole source map (the Kubernetes client's alone is over a
// million segments) and keeps it for the life of the process, hundreds of MB that every later
// fork of git has to copy. Our own files and the tests keep their maps; libraries' are skipped.
import module from 'node:module';

module.setSourceMapsSupport?.(true, { nodeModules: false, generatedCode: true });
