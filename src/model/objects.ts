// An object in the artifact store as modelship sees it: what the integrity gate checks an artifact against.

export interface StoredObject {
  size: number;
  /** the sha256 (hex) modelship recorded in the object's metadata when it verified the upload */
  sha256?: string;
  /** S3's stored SHA-256 checksum: base64, with '-N' for a composite multipart checksum */
  checksum?: string;
  /** 'FULL_OBJECT' or 'COMPOSITE' when S3 says */
  checksumType?: string;
}
