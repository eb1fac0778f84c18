// Lucene BM25 exactly as Anserini's SearchCollection runs it (DefaultEnglishAnalyzer,
// BagOfWordsQueryGenerator, BM25Similarity), on an index built by Anserini's
// IndexCollection, one thread, timed over the search loop only. Run as a single-file
// program against the Anserini fat jar:
//   java -cp anserini-fatjar.jar LuceneBm25.java INDEX TOPICS.tsv RUN.txt K1 B HITS
import io.anserini.analysis.DefaultEnglishAnalyzer;
import io.anserini.search.query.BagOfWordsQueryGenerator;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.FSDirectory;

public class LuceneBm25 {
  public static void main(String[] args) throws Exception {
    IndexReader reader = DirectoryReader.open(FSDirectory.open(Paths.get(args[0])));
    IndexSearcher searcher = new IndexSearcher(reader);
    searcher.setSimilarity(new BM25Similarity(Float.parseFloat(args[3]), Float.parseFloat(args[4])));
    int hits = Integer.parseInt(args[5]);
    Analyzer analyzer = DefaultEnglishAnalyzer.newDefaultInstance();
    BagOfWordsQueryGenerator gen = new BagOfWordsQueryGenerator();
    List<String[]> topics = new ArrayList<>();
    for (String line : Files.readAllLines(Paths.get(args[1]))) {
      String[] f = line.split("\t", 2);
      if (f.length == 2) topics.add(f);
    }
    StoredFields stored = reader.storedFields();
    // Warm-up pass (JIT), then the timed pass.
    for (String[] t : topics) searcher.search(gen.buildQuery("contents", analyzer, t[1]), hits);
    long[] lat = new long[topics.size()];
    TopDocs[] results = new TopDocs[topics.size()];
    long t0 = System.nanoTime();
    for (int i = 0; i < topics.size(); i++) {
      long s = System.nanoTime();
      Query q = gen.buildQuery("contents", analyzer, topics.get(i)[1]);
      results[i] = searcher.search(q, hits);
      lat[i] = System.nanoTime() - s;
    }
    double total = (System.nanoTime() - t0) / 1e9;
    try (PrintWriter out = new PrintWriter(args[2])) {
      for (int i = 0; i < topics.size(); i++) {
        int rank = 1;
        for (ScoreDoc sd : results[i].scoreDocs) {
          out.printf("%s Q0 %s %d %.6f lucene%n", topics.get(i)[0], stored.document(sd.doc).get("id"), rank++, sd.score);
        }
      }
    }
    Arrays.sort(lat);
    System.out.printf("{\"queries\": %d, \"seconds\": %.6f, \"qps\": %.1f, \"p50_ms\": %.4f, \"p99_ms\": %.4f}%n",
        topics.size(), total, topics.size() / total, lat[lat.length / 2] / 1e6, lat[(int) (lat.length * 0.99)] / 1e6);
  }
}
