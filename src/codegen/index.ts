// `fastify-ipc generate`: reads an OpenRPC document and writes one client package per language.
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { CodegenError, loadApi } from './openrpc.js'
import { generatePython } from './python.js'
import { generateTypeScript } from './typescript.js'

export { CodegenError }

export const languages = ['ts', 'python'] as const
export type Language = typeof languages[number]

export interface GenerateOptions {
  /** URL of a gateway's /openrpc.json, or a file */
  from: string
  /** output directory; with several languages each gets a subdirectory named after it */
  out: string
  langs: Language[]
  /** package name (default: `<info.title>-client`) */
  name?: string
}

/** Generates the clients and returns the files written. */
export async function generate ({ from, out, langs, name }: GenerateOptions): Promise<string[]> {
  const api = await loadApi(from)
  const pkg = name ?? `${api.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}-client`
  const written: string[] = []
  for (const lang of langs) {
    const files = lang === 'ts' ? await generateTypeScript(api, pkg) : generatePython(api, pkg)
    const dir = langs.length === 1 ? out : join(out, lang)
    for (const [path, content] of files) {
      const file = join(dir, path)
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, content)
      written.push(file)
    }
  }
  return written
}

export function parseLanguages (list: string): Language[] {
  const langs = list.split(',').map(l => l.trim()).filter(l => l !== '')
  const unknown = langs.filter(l => !(languages as readonly string[]).includes(l))
  if (unknown.length > 0 || langs.length === 0) throw new CodegenError(`--lang: one or more of ${languages.join(', ')} (got "${list}")`)
  return [...new Set(langs)] as Language[]
}
