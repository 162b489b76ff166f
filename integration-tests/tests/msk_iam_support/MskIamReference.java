// Prints what Amazon's own MSK IAM library (software.amazon.msk:aws-msk-iam-auth 2.4.0)
// produces for fixed credentials, time and host, for the msk_iam tests to compare with
// kafka-client's signer byte for byte.
//
// Args: accessKeyId secretAccessKey sessionToken|- brokerHost epochSeconds userAgent
// Prints three lines:
//   region <the signing region the library reads from the host>
//   payload <base64 of the AWS_MSK_IAM SASL payload bytes>
//   token <the OAUTHBEARER token for that region>
//
// The library takes the signing time from the clock; its AWS4SignedPayloadGenerator has
// no parameter for it. So the request is built and serialised by the library's own
// private methods (createRequestForSigning, toPayloadBytes, called reflectively), and
// signed by the same AWS SDK signer it uses, with the clock fixed through the SDK's
// Aws4PresignerParams.signingClockOverride. The OAUTHBEARER token repeats the few lines
// of IAMOAuthBearerLoginCallbackHandler.generateTokenValue around that presigned request.
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.signer.Aws4Signer;
import software.amazon.awssdk.auth.signer.params.Aws4PresignerParams;
import software.amazon.awssdk.http.SdkHttpFullRequest;
import software.amazon.msk.auth.iam.internals.AWS4SignedPayloadGenerator;
import software.amazon.msk.auth.iam.internals.AuthenticationRequestParams;

public class MskIamReference {
    public static void main(String[] args) throws Exception {
        String accessKey = args[0], secret = args[1], token = args[2], host = args[3];
        Instant now = Instant.ofEpochSecond(Long.parseLong(args[4]));
        String userAgent = args[5];
        AwsCredentials creds = token.equals("-")
            ? AwsBasicCredentials.create(accessKey, secret)
            : AwsSessionCredentials.create(accessKey, secret, token);

        AWS4SignedPayloadGenerator generator = new AWS4SignedPayloadGenerator();
        AuthenticationRequestParams params = AuthenticationRequestParams.create(host, creds, userAgent);
        System.out.println("region " + params.getRegion().id());
        SdkHttpFullRequest signed = presign(generator, params, now);
        Method toBytes = AWS4SignedPayloadGenerator.class.getDeclaredMethod(
            "toPayloadBytes", SdkHttpFullRequest.class, AuthenticationRequestParams.class);
        toBytes.setAccessible(true);
        byte[] payload = (byte[]) toBytes.invoke(generator, signed, params);
        System.out.println("payload " + Base64.getEncoder().encodeToString(payload));

        // The OAUTHBEARER token: host kafka.<region>.amazonaws.com, User-Agent appended.
        AuthenticationRequestParams tokenParams = AuthenticationRequestParams.create(
            "kafka." + params.getRegion().id() + ".amazonaws.com", creds, userAgent);
        SdkHttpFullRequest url = presign(generator, tokenParams, now).toBuilder()
            .appendRawQueryParameter("User-Agent", userAgent)
            .build();
        String value = Base64.getUrlEncoder().withoutPadding()
            .encodeToString(url.getUri().toString().getBytes(StandardCharsets.UTF_8));
        System.out.println("token " + value);
    }

    static SdkHttpFullRequest presign(AWS4SignedPayloadGenerator generator,
            AuthenticationRequestParams params, Instant now) throws Exception {
        Method create = AWS4SignedPayloadGenerator.class.getDeclaredMethod(
            "createRequestForSigning", AuthenticationRequestParams.class);
        create.setAccessible(true);
        SdkHttpFullRequest request = (SdkHttpFullRequest) create.invoke(generator, params);
        Aws4PresignerParams signing = Aws4PresignerParams.builder()
            .awsCredentials(params.getAwsCredentials())
            .expirationTime(now.plusSeconds(15 * 60))
            .signingRegion(params.getRegion())
            .signingName(params.getServiceScope())
            .signingClockOverride(Clock.fixed(now, ZoneOffset.UTC))
            .build();
        return Aws4Signer.create().presign(request, signing);
    }
}
